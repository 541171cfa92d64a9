//go:build !unix

package cputime

import "time"

// Self is not measured on this platform.
func Self() time.Duration { return 0 }
