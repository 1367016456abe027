// Package console is what a verification run prints: live progress while
// scenarios run (a line as each starts and ends, a periodic line for long
// ones, a status line on a terminal) and the final summary (a table, or
// JSON or YAML for machines).
package console
