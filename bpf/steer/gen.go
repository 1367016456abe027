package steer

//go:generate go tool bpf2go -tags linux -cc clang -strip llvm-strip -target bpfel -type steer_key -type steer_target -type orig_dst steer ../steer.c -- -O2 -g -Wall -Werror -I../include
