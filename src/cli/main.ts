/**
 * Entry point of the `sft` command-line program: dispatches to one module per command.
 */
console.error('sft: not built yet');
process.exit(1);
