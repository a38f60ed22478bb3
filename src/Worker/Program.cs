using PosCuda.Worker.Hosting;

return await WorkerCli.RunAsync(args).ConfigureAwait(false);
