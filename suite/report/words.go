package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gammaproof/gammaproof/suite/verdict"
)

// OwnSentence says what a scenario labelled gammaproof's own is.
const OwnSentence = "gammaproof's own: a behaviour gammaproof checks beyond upstream's conformance tests " +
	"(profile gammaproof, or no upstream test of the same behaviour); its verdict is shown here " +
	"and counts toward no upstream profile's totals."

// ToleratedCounts returns the check's tolerated errors by kind. A document
// written before results.json had the field records them only under
// errors; a check that PASSed with errors tolerated them all, so those are
// returned then.
func ToleratedCounts(c Check) map[string]int {
	if len(c.Tolerated) > 0 {
		return c.Tolerated
	}
	if c.Verdict == verdict.Pass && len(c.Errors) > 0 {
		return c.Errors
	}
	return nil
}

// ToleratedText says how many requests got no answer with an error the
// check tolerates, and why they are tolerated: "1533 connection refused,
// 53 other tolerated (busybox nc backend)"; "" when there were none.
func ToleratedText(c Check) string {
	t := ToleratedCounts(c)
	if len(t) == 0 {
		return ""
	}
	why := orDefault(c.TolerateReason, "the check's tolerateErrors")
	return fmt.Sprintf("%s tolerated (%s)", DescribeCounts(t), why)
}

// DescribeCounts writes counts by kind, largest first: "56 connection
// refused, 3 reset".
func DescribeCounts(m map[string]int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}

// observedText is what the report shows as a check's observation. A
// document from before tolerated errors were recorded may say "N requests
// met every expectation" of a check whose requests partly got no answer;
// that says more than was observed, so it becomes "A of N requests
// answered, every answer as expected".
func observedText(c Check) string {
	t := ToleratedCounts(c)
	if len(t) == 0 || !strings.HasSuffix(c.Observed, " requests met every expectation") {
		return c.Observed
	}
	failed := 0
	for _, n := range t {
		failed += n
	}
	return fmt.Sprintf("%d of %d requests answered, every answer as expected", c.Requests-failed, c.Requests)
}
