package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// healthcheckCommand is the hidden "healthcheck URL" command: a container
// image FROM scratch has no shell and no curl, so its HEALTHCHECK (and any
// exec probe) asks the binary itself. Exit 0 on a 2xx answer, 1 otherwise.
func healthcheckCommand(stderr io.Writer, code *int) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:    "healthcheck URL",
		Short:  "Exit 0 when GET URL answers 2xx (for container health checks)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			*code = healthcheck(cmd.Context(), args[0], timeout, stderr)
			return nil
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 2*time.Second, "give up after this long")
	return c
}

func healthcheck(ctx context.Context, url string, timeout time.Duration, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayd healthcheck: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayd healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(stderr, "gatewayd healthcheck: %s: %s\n", url, resp.Status)
		return 1
	}
	return 0
}
