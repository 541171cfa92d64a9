package freeze

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// InActions reports whether vios runs in a GitHub Actions job.
func InActions() bool { return os.Getenv("GITHUB_ACTIONS") == "true" }

// Annotate writes one `::error file=PATH,title=…::message` workflow command
// per violation, which GitHub shows on the file in the pull request.
func Annotate(w io.Writer, rep *Report) error {
	for _, v := range rep.Violations {
		msg := fmt.Sprintf("%s: %s %s (%s) against baseline %s", v.Path, Label(v.Category), v.Change, v.Detail, rep.Baseline)
		if _, err := fmt.Fprintf(w, "::error file=%s,title=%s::%s\n", escapeProperty(v.Path), escapeProperty("freeze: "+Label(v.Category)), escapeData(msg)); err != nil {
			return err
		}
	}
	return nil
}

// escapeData escapes a workflow command's message.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// Summary renders the report as the Markdown of a job summary.
func Summary(rep *Report) string {
	var b strings.Builder
	if rep.Passed {
		fmt.Fprintf(&b, "### freeze-guard: baseline %s holds\n\n", rep.Baseline)
	} else {
		fmt.Fprintf(&b, "### freeze-guard: %d frozen path(s) changed against baseline %s\n\n", len(rep.Violations), rep.Baseline)
	}
	if len(rep.Violations) > 0 {
		b.WriteString("| path | category | change | detail |\n|---|---|---|---|\n")
		for _, v := range rep.Violations {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", cell(v.Path), cell(Label(v.Category)), v.Change, cell(v.Detail))
		}
		b.WriteString("\n")
	}
	if len(rep.Allowed) > 0 {
		b.WriteString("Allowed by approved change requests:\n\n| path | category | change | change request |\n|---|---|---|---|\n")
		for _, a := range rep.Allowed {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", cell(a.Path), cell(Label(a.Category)), a.Change, cell(a.CR))
		}
		b.WriteString("\n")
	}
	for _, cr := range rep.ChangeRequests {
		state := "not approved"
		if cr.Approved {
			state = "approved"
		}
		fmt.Fprintf(&b, "- %s: %s (%s)\n", cell(cr.ID), state, cell(cr.Reason))
	}
	fmt.Fprintf(&b, "\nHead `%.12s`, manifest `%s`, %d frozen files checked.\n", rep.Head, rep.Manifest, rep.FrozenFiles)
	return b.String()
}

func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "\r", " ").Replace(s)
}

// AppendSummary appends the report's Markdown to the file GitHub names in
// $GITHUB_STEP_SUMMARY (nothing when it is unset).
func AppendSummary(rep *Report) error {
	p := os.Getenv("GITHUB_STEP_SUMMARY")
	if p == "" {
		return nil
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	if _, err := f.WriteString(Summary(rep)); err != nil {
		f.Close()
		return fmt.Errorf("step summary: %w", err)
	}
	return f.Close()
}
