/* Architecture-neutral shim, see types.h. */
#include <asm-generic/bitsperlong.h>
