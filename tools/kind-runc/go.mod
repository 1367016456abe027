module github.com/gammaproof/gammaproof/tools/kind-runc

go 1.26.0
