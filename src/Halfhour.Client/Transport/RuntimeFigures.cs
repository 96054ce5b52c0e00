namespace Halfhour.Client.Transport;

/// <summary>
/// What a backbone's process has used since it started (<c>GET /operator/runtime</c>). The counters only grow, so the
/// difference of two readings is what the work between them cost: CPU, bytes allocated and collections per message.
/// </summary>
/// <param name="At">When the reading was taken.</param>
/// <param name="ProcessCpuSeconds">CPU time of the whole process, user and kernel.</param>
/// <param name="AllocatedBytes">Bytes allocated on the managed heap since the start.</param>
/// <param name="Gen0Collections">Garbage collections of generation 0 (a collection of a higher generation counts here too).</param>
/// <param name="Gen1Collections">Garbage collections of generation 1.</param>
/// <param name="Gen2Collections">Garbage collections of generation 2 (full collections).</param>
/// <param name="GcPauseSeconds">Time the process was paused by the garbage collector.</param>
/// <param name="HeapBytes">The managed heap's size after the last collection.</param>
/// <param name="WorkingSetBytes">Physical memory the process holds.</param>
/// <param name="ThreadPoolThreads">Threads of the thread pool now.</param>
/// <param name="ThreadPoolCompletedItems">Work items the thread pool has completed since the start.</param>
/// <param name="ThreadPoolPendingItems">Work items waiting for a thread now.</param>
/// <param name="JitCompiledMethods">Methods the JIT compiler has compiled since the start (tiered compilation compiles a hot method up to three times).</param>
/// <param name="JitSeconds">Time spent compiling them, all threads: until it stops growing, the process is not yet in its steady state.</param>
/// <param name="KernelCpuSeconds">The part of <paramref name="ProcessCpuSeconds"/> spent in the kernel on the process's behalf (sockets, files, page faults, scheduling).</param>
public sealed record RuntimeFigures(DateTimeOffset At, double ProcessCpuSeconds, long AllocatedBytes, int Gen0Collections, int Gen1Collections,
    int Gen2Collections, double GcPauseSeconds, long HeapBytes, long WorkingSetBytes, int ThreadPoolThreads, long ThreadPoolCompletedItems,
    long ThreadPoolPendingItems, long JitCompiledMethods = 0, double JitSeconds = 0, double KernelCpuSeconds = 0)
{
    /// <summary>The figures of the running process.</summary>
    public static RuntimeFigures OfThisProcess()
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return new RuntimeFigures(DateTimeOffset.UtcNow, process.TotalProcessorTime.TotalSeconds, GC.GetTotalAllocatedBytes(precise: false),
            GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration().TotalSeconds,
            GC.GetGCMemoryInfo().HeapSizeBytes, process.WorkingSet64, ThreadPool.ThreadCount, ThreadPool.CompletedWorkItemCount,
            ThreadPool.PendingWorkItemCount, System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompilationTime().TotalSeconds,
            process.PrivilegedProcessorTime.TotalSeconds);
    }
}
