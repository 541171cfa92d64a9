package llm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// completion is a chat-completions answer shaped like OpenAI's.
func completion(content string, usage bool) string {
	u := ""
	if usage {
		u = `,"usage":{"prompt_tokens":211,"completion_tokens":64,"total_tokens":275,"prompt_tokens_details":{"cached_tokens":0}}`
	}
	c, _ := json.Marshal(content)
	return `{"id":"chatcmpl-9x","object":"chat.completion","created":1732406400,"model":"gpt-4o-mini-2024-07-18",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":` + string(c) + `,"refusal":null},"logprobs":null,"finish_reason":"stop"}]` +
		u + `,"system_fingerprint":"fp_0ba0d124f1"}`
}

const apiError = `{"error":{"message":"Incorrect API key provided: sk-****.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`

func testReq() Request {
	return Request{Asset: "BTCUSDT", CDSScore: 0.8, Regime: "bull", Sentences: 3, MaxTokens: 128,
		Events: []Event{{Headline: "h", Keyword: "etf"}, {Headline: "h2", Keyword: "hack"}}}
}

func provider(t *testing.T, url string, retries int) *OpenAI {
	t.Helper()
	p, err := NewOpenAI(OpenAIConfig{BaseURL: url + "/v1", Model: "gpt-4o-mini", APIKey: "sk-test", Timeout: 300 * time.Millisecond, Retries: retries, Seed: 7, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenAIRequestAndUsage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer sk-test" {
			http.Error(w, apiError, http.StatusUnauthorized)
			return
		}
		var body map[string]any
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &body); err != nil || body["model"] != "gpt-4o-mini" || body["temperature"] != 0.0 || body["seed"] != 7.0 || body["max_tokens"] != 128.0 {
			http.Error(w, `{"error":{"message":"bad request body"}}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, completion(" ETF flows rose. A hack hit. Watch miners. ", true))
	}))
	defer srv.Close()
	resp, err := provider(t, srv.URL, 0).Summarize(context.Background(), testReq())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text != "ETF flows rose. A hack hit. Watch miners." || resp.InputTokens != 211 || resp.OutputTokens != 64 || resp.Model != "gpt-4o-mini" {
		t.Fatalf("response %+v", resp)
	}
}

func TestOpenAIErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(calls int64, w http.ResponseWriter)
		retries int
		want    string
		calls   int64
		ok      bool
	}{
		{"401 is not retried", func(_ int64, w http.ResponseWriter) { http.Error(w, apiError, http.StatusUnauthorized) }, 3, "Incorrect API key", 1, false},
		{"429 then success", func(n int64, w http.ResponseWriter) {
			if n == 1 {
				w.Header().Set("Retry-After", "0")
				http.Error(w, `{"error":{"message":"Rate limit reached"}}`, http.StatusTooManyRequests)
				return
			}
			io.WriteString(w, completion("a. b. c.", true))
		}, 2, "", 2, true},
		{"500 forever is bounded", func(_ int64, w http.ResponseWriter) { http.Error(w, "upstream down", http.StatusBadGateway) }, 2, "giving up after 3 attempts", 3, false},
		{"missing usage", func(_ int64, w http.ResponseWriter) { io.WriteString(w, completion("a. b. c.", false)) }, 2, "no token usage", 1, false},
		{"malformed json", func(_ int64, w http.ResponseWriter) { io.WriteString(w, `{"choices":[`) }, 2, "malformed chat completion", 1, false},
		{"no choices", func(_ int64, w http.ResponseWriter) {
			io.WriteString(w, `{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}`)
		}, 0, "no message content", 1, false},
		{"timeout", func(_ int64, w http.ResponseWriter) { time.Sleep(time.Second) }, 1, "giving up", 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.handler(calls.Add(1), w)
			}))
			defer srv.Close()
			_, err := provider(t, srv.URL, tc.retries).Summarize(context.Background(), testReq())
			if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if calls.Load() != tc.calls {
				t.Fatalf("%d calls, want %d", calls.Load(), tc.calls)
			}
		})
	}
	if _, err := NewOpenAI(OpenAIConfig{BaseURL: "ftp://x", Model: "m"}); err == nil {
		t.Fatal("non-http base URL accepted")
	}
	if _, err := ParseChatResponse([]byte(completion("x", false))); !errors.Is(err, ErrNoUsage) {
		t.Fatalf("missing usage: %v", err)
	}
}

func FuzzParseChatResponse(f *testing.F) {
	f.Add([]byte(completion("a. b. c.", true)))
	f.Add([]byte(completion("a", false)))
	f.Add([]byte(`{"choices":[{"message":{"content":null}}],"usage":{"prompt_tokens":-1,"completion_tokens":2}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseChatResponse(data)
		if err == nil && (r.InputTokens < 0 || r.OutputTokens < 0) {
			t.Fatalf("negative usage accepted: %+v", r)
		}
	})
}
