package freeze

import "testing"

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"version":"v1.0","commit":null,"created_at":"2026-11-01T00:00:00Z","categories":{"agent_contracts":["policies/agents/*.yaml"]},"files":{"policies/agents/a.yaml":"0123456789012345678901234567890123456789"}}`))
	f.Add([]byte(`{"version":"v1.0"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, v, err := ParseManifest("baseline/v1.0.json", data)
		if err == nil && (m == nil || v.String() != "v1.0") {
			t.Fatalf("accepted %q as %v", data, v)
		}
	})
}

func FuzzDeclaredPaths(f *testing.F) {
	f.Add([]byte("## Declared paths\n- a\n* `b`\n## x\n- c\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, p := range DeclaredPaths(doc) {
			if p == "" {
				t.Fatal("empty path")
			}
		}
	})
}
