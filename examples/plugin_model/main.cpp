// The stock trainer command line; the models linked into this binary (gated_mlp.cpp)
// registered themselves before main() runs.

#include "app/cli.h"

int main(int argc, char** argv) { return trainer::app::main_entry(argc, argv); }
