package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File names written by [Write].
const (
	ResultsFile = "results.json"
	JUnitFile   = "junit.xml"
	HTMLFile    = "report.html"
)

// Decode parses a results document strictly (unknown fields are errors)
// and validates it. name is used in errors, e.g. the file path.
func Decode(data []byte, name string) (*Results, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Results
	if err := dec.Decode(&r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("decode %s: field %s: %s is not a %s", name, te.Field, te.Value, te.Type)
		}
		return nil, fmt.Errorf("decode %s: %w (is it a gammaproof results.json, apiVersion %s?)", name, err, APIVersion)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decode %s: trailing data after the document", name)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("validate %s: %w", name, err)
	}
	return &r, nil
}

// ReadResults reads and validates a results.json.
func ReadResults(path string) (*Results, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	return Decode(data, path)
}

// Encode returns the results as indented JSON with a trailing newline.
func Encode(r *Results) ([]byte, error) {
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode results: %w", err)
	}
	return append(out, '\n'), nil
}

// WriteResults validates r and writes it to path.
func WriteResults(path string, r *Results) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("validate results for %s: %w", path, err)
	}
	data, err := Encode(r)
	if err != nil {
		return err
	}
	return writeFile(path, data)
}

// Write writes every report for r into dir: results.json, the upstream
// ConformanceReport YAML (named by [ConformanceFileName]), junit.xml and
// report.html. It returns the paths written.
func Write(dir string, r *Results) ([]string, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("validate results: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create report dir: %w", err)
	}
	results, err := Encode(r)
	if err != nil {
		return nil, err
	}
	return Render(dir, r, results)
}

// Render writes the YAML, JUnit and HTML reports for r into dir, plus
// results.json if results is not nil. It returns the paths written.
func Render(dir string, r *Results, results []byte) ([]string, error) {
	files := map[string]func(*Results) ([]byte, error){
		ConformanceFileName(r): ConformanceYAML,
		JUnitFile:              JUnit,
		HTMLFile:               HTML,
	}
	var written []string
	if results != nil {
		p := filepath.Join(dir, ResultsFile)
		if err := writeFile(p, results); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	for _, name := range []string{ConformanceFileName(r), JUnitFile, HTMLFile} {
		data, err := files[name](r)
		if err != nil {
			return written, err
		}
		p := filepath.Join(dir, name)
		if err := writeFile(p, data); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

// writeFile writes atomically: a reader never sees half a report.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Close())
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		if rmErr := os.Remove(tmp.Name()); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
