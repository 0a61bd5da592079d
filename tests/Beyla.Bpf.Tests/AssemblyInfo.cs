// Kernel tests share the machine's tracepoints and CPU: run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
