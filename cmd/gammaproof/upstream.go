package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// upstreamVerdictsHelp says what --upstream-verdicts takes.
const upstreamVerdictsHelp = "verdicts JSON of upstream's conformance run on the same cluster and implementation (hack/conformance.sh writes <channel>-<version>-<mode>-verdicts.json): shown beside ours in results.json and report.html; exit 1 if a verdict disagrees"

// errDisagree says that upstream's verdict and ours differ on a scenario
// without a deviation that explains it.
type errDisagree struct{ scenarios []string }

func (e *errDisagree) Error() string {
	return fmt.Sprintf("upstream's conformance tests and our scenarios disagree: %s", strings.Join(e.scenarios, "; "))
}

// readUpstreamVerdicts reads --upstream-verdicts; "" reads nothing.
func readUpstreamVerdicts(path string) (map[string]verdict.Verdict, error) {
	if path == "" {
		return nil, nil
	}
	v, err := report.ReadUpstreamVerdicts(path)
	if err != nil {
		return nil, fmt.Errorf("--upstream-verdicts: %w", err)
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("--upstream-verdicts %s: no verdict of an upstream mesh test in it", path)
	}
	return v, nil
}

// attachUpstream records upstream's verdicts (read from verdictsPath)
// beside ours in the results at resultsPath, rewrites every report into
// dir from them, and says on w how the verdicts compare. It returns the
// paths written, and an [errDisagree] when a verdict disagrees (the
// reports, written first, show it).
func attachUpstream(w io.Writer, resultsPath, dir, verdictsPath string, verdicts map[string]verdict.Verdict) ([]string, error) {
	r, err := report.ReadResults(resultsPath)
	if err != nil {
		return nil, err
	}
	report.AttachUpstream(r, verdicts)
	written, err := report.Write(dir, r)
	if err != nil {
		return nil, err
	}
	bad := report.Disagreements(r)
	compared, same, explained := 0, 0, 0
	for _, s := range r.Scenarios {
		u := s.Upstream
		switch {
		case u == nil:
		case u.Verdict == s.Verdict:
			compared, same = compared+1, same+1
		case u.Deviation != "" && s.Verdict == verdict.Pass && u.Verdict == verdict.Fail:
			compared, explained = compared+1, explained+1
		default:
			compared++
		}
	}
	fmt.Fprintf(w, "upstream: %d scenarios beside upstream's verdicts (%s): %d same, %d different as the grant policy explains, %d disagree, %d not comparable (SKIP, INCONCLUSIVE or ERROR on one side)\n",
		compared, filepath.Base(verdictsPath), same, explained, len(bad), compared-same-explained-len(bad))
	if len(bad) > 0 {
		return written, &errDisagree{bad}
	}
	return written, nil
}
