package ghub

import (
	"fmt"
	"os"
	"strings"
)

// InActions reports whether the process runs in GitHub Actions.
func InActions() bool { return os.Getenv("GITHUB_ACTIONS") == "true" }

// Annotation renders a workflow command that GitHub Actions shows as an
// annotation: level is error, warning or notice.
func Annotation(level, title, msg string) string {
	return fmt.Sprintf("::%s title=%s::%s\n", level, escapeProperty(title), escapeData(msg))
}

// AppendStepSummary appends Markdown to the job summary
// ($GITHUB_STEP_SUMMARY); outside Actions it does nothing.
func AppendStepSummary(markdown string) error {
	p := os.Getenv("GITHUB_STEP_SUMMARY")
	if p == "" {
		return nil
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	if _, err := f.WriteString(markdown); err != nil {
		f.Close()
		return fmt.Errorf("step summary: %w", err)
	}
	return f.Close()
}

// RunURL is the URL of the current workflow run, or "" outside Actions.
func RunURL() string {
	server, repo, run := os.Getenv("GITHUB_SERVER_URL"), os.Getenv("GITHUB_REPOSITORY"), os.Getenv("GITHUB_RUN_ID")
	if server == "" || repo == "" || run == "" {
		return ""
	}
	return strings.TrimSuffix(server, "/") + "/" + repo + "/actions/runs/" + run
}

// escapeData escapes a workflow command's message.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// MarkdownCell makes text safe inside a Markdown table cell.
func MarkdownCell(s string) string {
	return strings.NewReplacer("|", "\\|", "\r", " ", "\n", "<br>").Replace(s)
}
