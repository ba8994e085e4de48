// SQLite 3, exposed to Swift as the CSQLite module.
#include <sqlite3.h>
