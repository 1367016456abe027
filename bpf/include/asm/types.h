/* Architecture-neutral shim so <linux/bpf.h> builds for -target bpf without
 * the host's multiarch include directory. */
#include <asm-generic/types.h>
