package shortcut

//go:generate go tool bpf2go -tags linux -cc clang -strip llvm-strip -target bpfel -type shortcut_key shortcut ../shortcut.c -- -O2 -g -Wall -Werror -I../include
