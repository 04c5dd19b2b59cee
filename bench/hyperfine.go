//go:build unix

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// errHyperfineOutput is returned when hyperfine's JSON export is not what
// the harness expects.
var errHyperfineOutput = errors.New("bench: unexpected hyperfine output")

// hyperfineResult is one command of a `hyperfine --export-json` file.
type hyperfineResult struct {
	Command string
	Mean    time.Duration
	Stddev  time.Duration
	Median  time.Duration
	Min     time.Duration
	Max     time.Duration
	Runs    int
	Times   []time.Duration // every run's wall time
}

// parseHyperfine reads the results of a hyperfine JSON export (times in
// seconds). A command with a non-zero exit code in any run is an error:
// a failing program is not a start-up time.
func parseHyperfine(data []byte) ([]hyperfineResult, error) {
	var doc struct {
		Results []struct {
			Command   string    `json:"command"`
			Mean      *float64  `json:"mean"`
			Stddev    *float64  `json:"stddev"`
			Median    float64   `json:"median"`
			Min       float64   `json:"min"`
			Max       float64   `json:"max"`
			Times     []float64 `json:"times"`
			ExitCodes []*int    `json:"exit_codes"`
		} `json:"results"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", errHyperfineOutput, err)
	}
	if len(doc.Results) == 0 {
		return nil, fmt.Errorf("%w: no results", errHyperfineOutput)
	}
	secs := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	out := make([]hyperfineResult, 0, len(doc.Results))
	for _, r := range doc.Results {
		if r.Mean == nil {
			return nil, fmt.Errorf("%w: %q has no mean", errHyperfineOutput, r.Command)
		}
		for i, c := range r.ExitCodes {
			if c == nil || *c != 0 {
				return nil, fmt.Errorf("%w: %q failed in run %d", errHyperfineOutput, r.Command, i+1)
			}
		}
		res := hyperfineResult{
			Command: r.Command, Mean: secs(*r.Mean), Median: secs(r.Median),
			Min: secs(r.Min), Max: secs(r.Max), Runs: len(r.Times),
		}
		for _, t := range r.Times {
			res.Times = append(res.Times, secs(t))
		}
		if r.Stddev != nil {
			res.Stddev = secs(*r.Stddev)
		}
		out = append(out, res)
	}
	return out, nil
}

// mergeRuns folds the results of one command from several hyperfine runs
// into one, its statistics computed from all their run times.
func mergeRuns(rs []hyperfineResult) hyperfineResult {
	var m hyperfineResult
	for _, r := range rs {
		m.Command = r.Command
		m.Times = append(m.Times, r.Times...)
	}
	n := len(m.Times)
	m.Runs = n
	if n == 0 {
		return m
	}
	t := slices.Clone(m.Times)
	slices.Sort(t)
	m.Min, m.Max = t[0], t[n-1]
	if n%2 == 1 {
		m.Median = t[n/2]
	} else {
		m.Median = (t[n/2-1] + t[n/2]) / 2
	}
	var sum float64
	for _, d := range t {
		sum += float64(d)
	}
	mean := sum / float64(n)
	m.Mean = time.Duration(mean)
	if n > 1 {
		var sq float64
		for _, d := range t {
			sq += (float64(d) - mean) * (float64(d) - mean)
		}
		m.Stddev = time.Duration(math.Sqrt(sq / float64(n-1)))
	}
	return m
}
