// Package fault carries the documented exit codes of vios through ordinary
// error chains: domain packages mark an error as bad input or as a governance
// finding, and cmd/vios maps the chain to a process exit code.
package fault

import (
	"errors"
	"fmt"
)

// Exit codes of the vios command line (DESIGN section 10).
const (
	CodeOK         = 0 // success
	CodeGovernance = 1 // a governance failure was found (violation, halt, FAIL)
	CodeInput      = 2 // usage, configuration or bad input
	CodeRuntime    = 3 // I/O, network or any unclassified error
)

// Error attaches an exit code to an error.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Input marks err as bad input or configuration (exit 2).
func Input(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: CodeInput, Err: err}
}

// Inputf formats a bad-input error (exit 2).
func Inputf(format string, args ...any) error {
	return Input(fmt.Errorf(format, args...))
}

// Governance marks err as a governance finding (exit 1).
func Governance(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: CodeGovernance, Err: err}
}

// Governancef formats a governance finding (exit 1).
func Governancef(format string, args ...any) error {
	return Governance(fmt.Errorf(format, args...))
}

// Code returns the exit code an error chain carries: the outermost
// fault.Error wins, nil is 0 and an unmarked error is a runtime error (3).
func Code(err error) int {
	if err == nil {
		return CodeOK
	}
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	return CodeRuntime
}

// IsInput reports whether err is marked as bad input.
func IsInput(err error) bool { return Code(err) == CodeInput }
