// libsodium, exposed to Swift as the CSodium module.
#include <sodium.h>
