using CloudMount.Core.Caching;
using CloudMount.Core.Diagnostics;

namespace CloudMount.Core.Reading;

/// <summary>
/// The read streams of one open file: up to <see cref="MaxStreams"/> readers of the same handle (the kernel's
/// out-of-order async reads, threads sharing a descriptor, a process reading two places of a file), each with its
/// own read-ahead window, so they share blocks instead of resetting each other's read-ahead.
/// </summary>
/// <remarks>
/// <para>A read continues a stream when it starts inside the stream's covered range or at most
/// <see cref="ReadAheadOptions.ForwardSeekToleranceBytes"/> past it (a sequential stream), or right where the stream's
/// last read ended, or at most one read's length further (a random stream, which turns sequential once its run of
/// such reads passes <see cref="SequentialRunBytes"/>). A sequential stream's window
/// starts at <see cref="ReadAheadOptions.InitialWindowBytes"/> and doubles each time half of it has been read, up
/// to <see cref="ReadAheadOptions.MaxWindowBytes"/>. Any other read is random: it takes the least recently used
/// slot and fetches only the blocks it needs (a window of one block), so a random reader never drops a part
/// another stream holds. A read at offset 0 starts a sequential stream at once.</para>
/// <para>Bound: at most <see cref="MaxStreams"/> streams, each holding the parts of its window (at most
/// <see cref="ReadAheadOptions.MaxWindowBytes"/> plus <see cref="ReadAheadOptions.KeepBehindBytes"/>).</para>
/// <para>Locking: every field is guarded by the table's lock (<see cref="BlockTable.Lock"/>).</para>
/// </remarks>
internal sealed class ReadStreams(BlockTable table)
{
    /// <summary>Streams kept per open file.</summary>
    public const int MaxStreams = 4;

    /// <summary>
    /// Bytes a run of reads that continue each other must exceed before its stream turns sequential and reads
    /// ahead (1 MiB, one block). Random readers often continue their last read for a short while: fio's random map
    /// takes the next unread block after a collision, a database reads a page and its neighbour, and the kernel
    /// sends a direct read larger than <c>max_read</c> as pieces that continue each other. Measured (fio randread
    /// 256 KiB, 1 job, 512 MiB on s3rver): turning sequential at the second such read gave 1,318 MiB/s warm,
    /// this rule 2,813.
    /// </summary>
    public const long SequentialRunBytes = ObjectVersion.BlockSize;

    private readonly Stream?[] _streams = new Stream?[MaxStreams];   // protected by table.Lock
    private long _clock;                                              // protected by table.Lock
    private long _lastWindow;                                         // protected by table.Lock
    private Stream? _lastRandom;                                      // protected by table.Lock: the stream TryRandomOutsideTableLocked made last

    private sealed class Stream
    {
        public long LastOffset, LastEnd;
        /// <summary>Where the run of reads that continued each other began (random streams).</summary>
        public long RunStart;
        public bool Sequential;
        public long Window, ConsumedSinceGrowth;
        /// <summary>Parts held for the window, ascending, each with one interest taken by this stream.</summary>
        public readonly List<Part> Held = [];
        public long CoveredEnd;
        public long LastUse;
    }

    /// <summary>The window of the stream used last, in bytes (0 for a random read).</summary>
    public long LastWindowLocked => _lastWindow;

    /// <summary>
    /// Assigns a read to a stream, moves that stream's window, and takes one interest for the caller in each part
    /// covering [<paramref name="offset"/>, <paramref name="end"/>). Caller holds the table's lock and starts
    /// <paramref name="started"/> after letting go of it.
    /// </summary>
    /// <param name="offset">First byte of the read.</param>
    /// <param name="end">One past its last byte (within the object).</param>
    /// <param name="covering">Receives the parts holding the read's bytes, in order, with one interest each for the caller.</param>
    /// <param name="started">Receives the parts created here, to start.</param>
    /// <param name="released">Receives parts whose fills were cancelled here (no interest left), to await.</param>
    public void PlanLocked(long offset, long end, List<Part> covering, List<Part> started, List<Part> released)
    {
        var options = table.Options;
        var s = FindLocked(offset);
        bool random = false;
        if (s is null)
        {
            s = NewStreamLocked(released);
            s.RunStart = offset;
            s.Sequential = offset == 0;
            s.Window = s.Sequential ? options.InitialWindowBytes : 0;
            s.CoveredEnd = offset;
            random = !s.Sequential;
        }
        else if (!s.Sequential && end - s.RunStart <= SequentialRunBytes)
        {
            random = true; // a short run of a random reader: no read-ahead yet
        }
        else if (!s.Sequential)
        {
            s.Sequential = true;
            s.Window = options.InitialWindowBytes;
            s.ConsumedSinceGrowth = 0;
        }
        else
        {
            s.ConsumedSinceGrowth += end - offset;
            if (s.ConsumedSinceGrowth >= s.Window / 2 && s.Window < options.MaxWindowBytes)
            {
                s.Window = Math.Min(s.Window * 2, options.MaxWindowBytes);
                s.ConsumedSinceGrowth = 0;
                CloudMountMetrics.PrefetchWindow.Record(s.Window);
            }
        }
        s.LastUse = ++_clock;
        s.LastOffset = offset;
        s.LastEnd = end;
        _lastWindow = s.Window;

        // The bytes of this read, for the caller: a reader waits on them, so they are rented whatever the budget.
        table.AcquireLocked(offset, end, demand: true, random, covering, started);

        // Drop what the stream no longer needs behind the reader.
        long keepFrom = offset - options.KeepBehindBytes;
        int drop = 0;
        while (drop < s.Held.Count && s.Held[drop].End <= keepFrom) drop++;
        for (int i = 0; i < drop; i++)
        {
            if (table.ReleaseInterestLocked(s.Held[i]) is { } c) released.Add(c);
        }
        s.Held.RemoveRange(0, drop);

        // The stream holds the read's parts too, so a following read finds them.
        foreach (var p in covering)
        {
            if (s.Held.Contains(p)) continue;
            BlockTable.AddInterestLocked(p);
            InsertSorted(s.Held, p);
        }
        s.CoveredEnd = Math.Max(s.CoveredEnd, covering.Count > 0 ? covering[^1].End : end);

        if (!s.Sequential) return;
        // Read-ahead: keep the window ahead of the reader, in requests of at least a part (or the whole rest).
        const long block = ObjectVersion.BlockSize;
        long size = table.Size;
        long target = Math.Min(size, (Math.Max(end, offset + s.Window) + block - 1) / block * block);
        long partBytes = Math.Max(block, options.PartBytes / block * block);
        long minimum = Math.Min(partBytes, s.Window);
        if (s.CoveredEnd < target && (target - s.CoveredEnd >= minimum || target == size))
        {
            var ahead = new List<Part>();
            s.CoveredEnd = table.AcquireLocked(s.CoveredEnd, target, demand: false, random: false, ahead, started);
            foreach (var p in ahead)
            {
                if (s.Held.Contains(p))
                {
                    if (table.ReleaseInterestLocked(p) is { } c) released.Add(c); // already held: keep one interest
                    continue;
                }
                InsertSorted(s.Held, p);
            }
        }
    }

    /// <summary>
    /// When a read at <paramref name="offset"/> would be random and no live part holds its bytes, records it as a
    /// random stream (so a run of reads that continues it past <see cref="SequentialRunBytes"/> turns sequential, as in <see cref="PlanLocked"/>) without taking
    /// parts, and returns true: the caller then copies exactly its bytes from the caches, or, when they do not hold
    /// them all, takes the parts with <see cref="BlockTable.AcquireLocked"/>. Caller holds the table's lock.
    /// </summary>
    /// <param name="offset">First byte of the read.</param>
    /// <param name="end">One past its last byte (within the object).</param>
    /// <param name="released">Receives parts whose fills were cancelled when a stream slot was reused, to await.</param>
    public bool TryRandomOutsideTableLocked(long offset, long end, List<Part> released)
    {
        if (offset == 0 || table.CoversAnyLocked(offset, end)) return false;
        var s = FindLocked(offset);
        if (s is not null && (s.Sequential || end - s.RunStart > SequentialRunBytes)) return false;
        if (s is null)
        {
            s = NewStreamLocked(released);
            s.RunStart = offset;
        }
        _lastRandom = s;
        s.Sequential = false;
        s.Window = 0;
        s.CoveredEnd = end;
        s.LastUse = ++_clock;
        s.LastOffset = offset;
        s.LastEnd = end;
        _lastWindow = 0;
        return true;
    }

    /// <summary>
    /// Takes the parts of a read <see cref="TryRandomOutsideTableLocked"/> let through when the caches did not hold
    /// its bytes: one interest each for the caller in <paramref name="covering"/>, and one for the read's stream (while
    /// it keeps its slot), so the next reader of those blocks finds them. Caller holds the table's lock.
    /// </summary>
    public void AcquireRandomLocked(long offset, long end, List<Part> covering, List<Part> started)
    {
        table.AcquireLocked(offset, end, demand: true, random: true, covering, started);
        table.AcquireRandomAheadLocked(offset, end, started);
        if (_lastRandom is not { } s || Array.IndexOf(_streams, s) < 0 || s.Sequential) return;
        foreach (var p in covering)
        {
            if (s.Held.Contains(p)) continue;
            BlockTable.AddInterestLocked(p);
            InsertSorted(s.Held, p);
        }
    }

    private static void InsertSorted(List<Part> held, Part p)
    {
        int i = held.Count;
        while (i > 0 && held[i - 1].Start > p.Start) i--;
        held.Insert(i, p);
    }

    private Stream? FindLocked(long offset)
    {
        var tolerance = table.Options.ForwardSeekToleranceBytes;
        Stream? best = null;
        foreach (var s in _streams)
        {
            if (s is null) continue;
            bool continues = s.Sequential
                ? offset >= (s.Held.Count > 0 ? Math.Min(s.Held[0].Start, s.LastOffset) : s.LastOffset) && offset <= s.CoveredEnd + tolerance
                : offset >= s.LastEnd && offset <= s.LastEnd + Math.Min(tolerance, s.LastEnd - s.LastOffset);
            if (continues && (best is null || s.LastUse > best.LastUse)) best = s;
        }
        return best;
    }

    private Stream NewStreamLocked(List<Part> released)
    {
        int slot = Array.IndexOf(_streams, null);
        if (slot < 0)
        {
            slot = 0;
            for (int i = 1; i < _streams.Length; i++)
            {
                if (_streams[i]!.LastUse < _streams[slot]!.LastUse) slot = i;
            }
            DropLocked(_streams[slot]!, released);
        }
        return _streams[slot] = new Stream();
    }

    private void DropLocked(Stream s, List<Part> released)
    {
        foreach (var p in s.Held)
        {
            if (table.ReleaseInterestLocked(p) is { } c) released.Add(c);
        }
        s.Held.Clear();
    }

    /// <summary>Drops every stream's parts (the file was closed). Caller holds the table's lock.</summary>
    public void DropAllLocked(List<Part> released)
    {
        for (int i = 0; i < _streams.Length; i++)
        {
            if (_streams[i] is { } s) DropLocked(s, released);
            _streams[i] = null;
        }
    }
}
