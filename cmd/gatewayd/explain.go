package main

import (
	"io"

	"github.com/spf13/cobra"
)

func explainCmd(stdout, stderr io.Writer, code *int) *cobra.Command {
	return &cobra.Command{Use: "explain", Hidden: true}
}
