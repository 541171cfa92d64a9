// Command startfloor links the two libraries every vios command must carry —
// go-git (the issue asks for go-git tree diffs) and sigstore's signature
// package (signing and verifying) — and does nothing else. Its run time is
// the floor under any vios command's start-up on the machine at hand:
// scripts/bench-freeze.sh times it beside `git diff` and `vios freeze check`.
package main

import (
	_ "github.com/go-git/go-git/v5"
	_ "github.com/sigstore/sigstore/pkg/signature"
)

func main() {}
