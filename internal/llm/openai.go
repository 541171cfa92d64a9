package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vision-ios/vios/internal/fault"
)

// OpenAIConfig configures the OpenAI-compatible chat-completions provider
// (OpenAI, vLLM, Ollama, a LiteLLM proxy: anything serving
// POST {base}/chat/completions).
type OpenAIConfig struct {
	BaseURL     string        // e.g. https://api.openai.com/v1
	Model       string        // priced by policies/economics.yaml
	APIKey      string        // sent as a bearer token when set
	Timeout     time.Duration // per request
	Retries     int           // on 429, 5xx and transport errors
	Seed        int           // for determinism where the server honours it
	Temperature float64       // 0 for determinism
	HTTPClient  *http.Client
	// Backoff is the first retry delay, doubled per retry (default 500ms).
	Backoff time.Duration
}

// OpenAI is the OpenAI-compatible provider.
type OpenAI struct {
	cfg      OpenAIConfig
	endpoint string
}

// NewOpenAI validates the configuration.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fault.Inputf("openai provider: base URL %q must be an http(s) URL", cfg.BaseURL)
	}
	if cfg.Model == "" {
		return nil, fault.Inputf("openai provider: no model")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	return &OpenAI{cfg: cfg, endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/chat/completions"}, nil
}

// Name implements Provider.
func (*OpenAI) Name() string { return "openai" }

// Model implements Provider.
func (o *OpenAI) Model() string { return o.cfg.Model }

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model       string        `json:"model"`
	Messages    []chatMessage `json:"messages"`
	MaxTokens   int           `json:"max_tokens"`
	Temperature float64       `json:"temperature"`
	Seed        int           `json:"seed"`
}

// ChatResponse is the part of a chat-completions answer vios reads.
type ChatResponse struct {
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     *int `json:"prompt_tokens"`
		CompletionTokens *int `json:"completion_tokens"`
	} `json:"usage"`
}

// ErrNoUsage is returned for an answer without token usage: its cost cannot
// be known, so it is never counted as free.
var ErrNoUsage = errors.New("the answer reports no token usage")

// ParseChatResponse reads a chat-completions body into a Response.
func ParseChatResponse(body []byte) (Response, error) {
	var cr ChatResponse
	if err := json.Unmarshal(body, &cr); err != nil {
		return Response{}, fmt.Errorf("malformed chat completion: %v", err)
	}
	if len(cr.Choices) == 0 || cr.Choices[0].Message.Content == nil {
		return Response{}, errors.New("chat completion has no message content")
	}
	if cr.Usage == nil || cr.Usage.PromptTokens == nil || cr.Usage.CompletionTokens == nil {
		return Response{}, ErrNoUsage
	}
	in, out := *cr.Usage.PromptTokens, *cr.Usage.CompletionTokens
	if in < 0 || out < 0 {
		return Response{}, fmt.Errorf("negative token usage %d/%d", in, out)
	}
	return Response{Text: strings.TrimSpace(*cr.Choices[0].Message.Content), Model: cr.Model, InputTokens: in, OutputTokens: out}, nil
}

// Summarize calls the endpoint, retrying 429, 5xx and transport errors with
// exponential backoff (honouring Retry-After), and returns the answer with
// the usage the server reported. The model priced is the configured one.
func (o *OpenAI) Summarize(ctx context.Context, req Request) (Response, error) {
	body, _ := json.Marshal(chatRequest{
		Model: o.cfg.Model,
		Messages: []chatMessage{
			{Role: "system", Content: SystemPrompt},
			{Role: "user", Content: Prompt(req)},
		},
		MaxTokens: req.MaxTokens, Temperature: o.cfg.Temperature, Seed: o.cfg.Seed,
	})
	delay := o.cfg.Backoff
	var lastErr error
	for attempt := 0; attempt <= o.cfg.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return Response{}, ctx.Err()
			case <-time.After(delay):
			}
			delay *= 2
		}
		resp, retryAfter, err := o.once(ctx, body)
		if err == nil {
			resp.Model = o.cfg.Model
			return resp, nil
		}
		var re retryable
		if !errors.As(err, &re) {
			return Response{}, err
		}
		lastErr = err
		if retryAfter > 0 {
			delay = retryAfter
		}
	}
	return Response{}, fmt.Errorf("openai provider: giving up after %d attempts: %w", o.cfg.Retries+1, lastErr)
}

type retryable struct{ error }

func (r retryable) Unwrap() error { return r.error }

func (o *OpenAI) once(ctx context.Context, body []byte) (Response, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, o.endpoint, bytes.NewReader(body))
	if err != nil {
		return Response{}, 0, err
	}
	hr.Header.Set("Content-Type", "application/json")
	if o.cfg.APIKey != "" {
		hr.Header.Set("Authorization", "Bearer "+o.cfg.APIKey)
	}
	res, err := o.cfg.HTTPClient.Do(hr)
	if err != nil {
		return Response{}, 0, retryable{fmt.Errorf("openai provider: %w", err)}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return Response{}, 0, retryable{fmt.Errorf("openai provider: read answer: %w", err)}
	}
	switch {
	case res.StatusCode == http.StatusOK:
		r, err := ParseChatResponse(data)
		if err != nil {
			return Response{}, 0, fmt.Errorf("openai provider: %w", err)
		}
		return r, 0, nil
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		ra, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		return Response{}, time.Duration(ra) * time.Second, retryable{fmt.Errorf("openai provider: HTTP %d: %s", res.StatusCode, apiMessage(data))}
	default:
		return Response{}, 0, fmt.Errorf("openai provider: HTTP %d: %s", res.StatusCode, apiMessage(data))
	}
}

// apiMessage extracts {"error":{"message":…}} or a short body.
func apiMessage(data []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
