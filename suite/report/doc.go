// Package report reads and writes a run's results.json and renders it as an upstream ConformanceReport, JUnit XML and one self-contained HTML page.
package report
