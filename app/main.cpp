// The stock trainer binary: the CLI with the built-in models.

#include "app/cli.h"

int main(int argc, char** argv) { return trainer::app::main_entry(argc, argv); }
