// toml++'s implementation, compiled once for the whole program (toml++'s
// TOML_IMPLEMENTATION mode; every other file sees declarations only).
#define TOML_IMPLEMENTATION
#include "config/toml.h"
