using System.CommandLine;
using PosCuda.Coordinator.Cli;

return await PoscudaCli.RunAsync(args).ConfigureAwait(false);
