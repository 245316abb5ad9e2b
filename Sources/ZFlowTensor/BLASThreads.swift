#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS's idle worker threads spin (`sched_yield`) for 2^28 cycles, about 0.1 s, after each
/// call before they sleep. ZFlow runs its own kernels (Winograd transforms, attention, norms) on
/// Dispatch threads between BLAS calls, and on two cores the spinning workers take turns with
/// them: the bundled tiny VAE took 2.15 s instead of 0.064 s, and conv 3x3 128->128 at 384^2
/// 200 ms instead of 140 ms (docs/benchmarks.md). The spin is only configurable through
/// `OPENBLAS_THREAD_TIMEOUT`, read when the library loads; this sets it to 2^16 cycles (~20 µs)
/// and has OpenBLAS read it again and restart its workers. It uses OpenBLAS's exported
/// `openblas_read_env` and `blas_thread_shutdown_`, looked up by name: with another BLAS, or
/// when the user has set `OPENBLAS_THREAD_TIMEOUT`, nothing is changed.
let blasThreadsConfigured: Bool = {
    #if os(Linux)
    guard getenv("OPENBLAS_THREAD_TIMEOUT") == nil,
          let process = dlopen(nil, RTLD_NOW),
          let readEnvironment = dlsym(process, "openblas_read_env"),
          let shutDownThreads = dlsym(process, "blas_thread_shutdown_") else { return false }
    setenv("OPENBLAS_THREAD_TIMEOUT", "16", 0)
    typealias Function = @convention(c) () -> Void
    unsafeBitCast(readEnvironment, to: Function.self)()
    // Returns an Int32 status that is always 0; the workers restart with the new timeout at the next call.
    typealias Shutdown = @convention(c) () -> Int32
    _ = unsafeBitCast(shutDownThreads, to: Shutdown.self)()
    return true
    #else
    return false
    #endif
}()
