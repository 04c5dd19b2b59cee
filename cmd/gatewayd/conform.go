package main

import (
	"io"

	"github.com/spf13/cobra"
)

func conformCmd(stdout, stderr io.Writer, code *int) *cobra.Command {
	return &cobra.Command{Use: "conform", Hidden: true}
}
