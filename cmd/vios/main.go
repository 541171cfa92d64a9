// Command vios is the Vision-IoS governance pipeline. See `vios --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vision-ios/vios/internal/cli"
	"github.com/vision-ios/vios/internal/gctune"
)

func main() {
	gctune.Apply()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
