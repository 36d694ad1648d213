using System.Runtime.CompilerServices;
using CloudMount.Core.Caching;

namespace CloudMount.Core.Reading;

/// <summary>
/// The mount's <see cref="BlockTable"/>s, one per object version being read, shared by every open file of that
/// version; attached to the mount's <see cref="ReadCaches"/> (one per mount), so the Vfs needs no new field.
/// </summary>
/// <remarks>
/// Bound: a table lives while at least one open file reads its version (each <see cref="Prefetcher"/> holds one
/// use), so there are at most as many tables as open files. <c>_lock</c> guards <c>_tables</c>.
/// </remarks>
internal sealed class SharedBlockTables
{
    private static readonly ConditionalWeakTable<ReadCaches, SharedBlockTables> Attached = new();

    private readonly Lock _lock = new();
    private readonly Dictionary<string, (BlockTable Table, int Users)> _tables = [];   // by version id; protected by _lock

    /// <summary>The tables of the mount that owns <paramref name="caches"/>.</summary>
    public static SharedBlockTables For(ReadCaches caches) => Attached.GetValue(caches, _ => new SharedBlockTables());

    /// <summary>Tables in use (tests).</summary>
    public int Count
    {
        get { lock (_lock) return _tables.Count; }
    }

    /// <summary>The table of <paramref name="version"/>, made by <paramref name="create"/> when none is in use; one use more.</summary>
    public BlockTable Acquire(in ObjectVersion version, Func<BlockTable> create)
    {
        string id = version.Id;
        lock (_lock)
        {
            if (_tables.TryGetValue(id, out var entry))
            {
                _tables[id] = (entry.Table, entry.Users + 1);
                return entry.Table;
            }
            var table = create();
            _tables[id] = (table, 1);
            return table;
        }
    }

    /// <summary>One use less; the table is forgotten when its last user is gone.</summary>
    public void Release(in ObjectVersion version, BlockTable table)
    {
        string id = version.Id;
        lock (_lock)
        {
            if (!_tables.TryGetValue(id, out var entry) || entry.Table != table) return;
            if (entry.Users <= 1) _tables.Remove(id);
            else _tables[id] = (table, entry.Users - 1);
        }
    }
}
