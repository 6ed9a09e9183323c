#pragma once
/// The trainer command line as a function, so a custom binary (for example one with
/// C++ model plug-ins registered, see examples/plugin_model) runs the same CLI.

namespace trainer::app {

/// Parses `argv`, runs the chosen subcommand and returns the process exit code
/// documented in README.md ("Exit codes"). It catches every error and never calls exit().
int main_entry(int argc, char** argv);

}  // namespace trainer::app
