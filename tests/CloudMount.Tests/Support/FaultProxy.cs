using System.Net.Http.Json;
using System.Text.Json;

namespace CloudMount.Tests.Support;

/// <summary>Shares of requests the proxy spoils, by kind (each 0..1; their sum at most 1).</summary>
public sealed record FaultMix(double P503 = 0, double P500 = 0, double ResetRequest = 0, double ResetResponse = 0, double Delay = 0, int MaxDelayMs = 1500)
{
    /// <summary>The mix of the fault test: about one request in six spoiled.</summary>
    public static FaultMix Standard { get; } = new(P503: 0.05, P500: 0.02, ResetRequest: 0.08, ResetResponse: 0.04, Delay: 0.04, MaxDelayMs: 1200);
}

/// <summary>What the proxy has done so far.</summary>
public sealed record FaultStats(int Requests, int P503, int P500, int ResetRequest, int ResetResponse, int Delay, int Stalled)
{
    public int Faults => P503 + P500 + ResetRequest + ResetResponse + Delay;

    public override string ToString() =>
        $"{Requests} requests: {P503} answered 503, {P500} answered 500, {ResetRequest} reset in the request body, {ResetResponse} reset in the answer's body, {Delay} delayed";
}

/// <summary>
/// Our fault-injecting proxy (tests/servers/fault-proxy.js, started by fault-proxy.sh) in front of one server on
/// 127.0.0.1: transparent until <see cref="ConfigureAsync"/>; <see cref="StallAsync"/> holds every request silent.
/// Stopped with the other servers at the end of the run, or by <see cref="DisposeAsync"/>.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private static readonly HttpClient Control = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly string _stop;
    private readonly int _controlPort;

    private FaultProxy(Uri endpoint, int controlPort, string stop)
    {
        Endpoint = endpoint;
        _controlPort = controlPort;
        _stop = stop;
    }

    /// <summary>Where clients connect instead of the server: http://127.0.0.1:PORT.</summary>
    public Uri Endpoint { get; }

    /// <summary>Starts a proxy to <paramref name="upstream"/> (http://127.0.0.1:PORT[/...]; only the port is used).</summary>
    public static async Task<FaultProxy> StartAsync(Uri upstream, int seed = 1)
    {
        int listen = TestServers.FreePortRange(1), control = TestServers.FreePortRange(1);
        string state = Paths.NewDir("fault-proxy");
        string script = Path.Combine(Paths.Repo, "tests", "servers", "fault-proxy.sh");
        var r = await ProcessRunner.RunAsync(script, ["start", state, listen.ToString(), upstream.Port.ToString(), control.ToString(), seed.ToString()], timeout: TimeSpan.FromMinutes(1));
        string stop = $"{ProcessRunner.Q(script)} stop {ProcessRunner.Q(state)}";
        TestServers.OnStop(stop);
        if (r.ExitCode != 0) throw new InvalidOperationException($"fault-proxy did not start: {r}");
        return new FaultProxy(new Uri($"http://127.0.0.1:{listen}"), control, stop);
    }

    /// <summary>The upstream URL with the proxy's host and port (path and query kept).</summary>
    public Uri Via(Uri upstream) => new UriBuilder(upstream) { Host = Endpoint.Host, Port = Endpoint.Port }.Uri;

    public async Task ConfigureAsync(FaultMix mix)
    {
        using var r = await Control.PostAsJsonAsync($"http://127.0.0.1:{_controlPort}/config", new Dictionary<string, object>
        {
            ["p503"] = mix.P503, ["p500"] = mix.P500, ["resetRequest"] = mix.ResetRequest,
            ["resetResponse"] = mix.ResetResponse, ["delay"] = mix.Delay, ["maxDelayMs"] = mix.MaxDelayMs,
        });
        r.EnsureSuccessStatusCode();
    }

    /// <summary>Answers the next <paramref name="count"/> requests whose path starts with <paramref name="pathPrefix"/> with 503.</summary>
    public async Task Fail503Async(string pathPrefix, int count)
    {
        using var r = await Control.PostAsJsonAsync($"http://127.0.0.1:{_controlPort}/config", new Dictionary<string, object> { ["fail503"] = new Dictionary<string, int> { [pathPrefix] = count } });
        r.EnsureSuccessStatusCode();
    }

    /// <summary>Makes answers to PUT carry another ETag than the server gave (true), or the server's again (false).</summary>
    public async Task WrongEtagOnPutAsync(bool on)
    {
        using var r = await Control.PostAsJsonAsync($"http://127.0.0.1:{_controlPort}/config", new Dictionary<string, object> { ["wrongEtagOnPut"] = on });
        r.EnsureSuccessStatusCode();
    }

    /// <summary>Requests answered 503 by <see cref="Fail503Async"/>, and PUT answers given another ETag.</summary>
    public async Task<(int Failed503, int WrongEtag)> TargetedAsync()
    {
        using var doc = JsonDocument.Parse(await Control.GetStringAsync($"http://127.0.0.1:{_controlPort}/stats"));
        var s = doc.RootElement.GetProperty("stats");
        return (s.GetProperty("failed503").GetInt32(), s.GetProperty("wrongEtag").GetInt32());
    }

    /// <summary>Holds every request silent (true), or ends the silence and closes the connections held (false).</summary>
    public async Task StallAsync(bool stall)
    {
        using var r = await Control.PostAsJsonAsync($"http://127.0.0.1:{_controlPort}/config", new Dictionary<string, object> { ["stall"] = stall });
        r.EnsureSuccessStatusCode();
    }

    public async Task<FaultStats> StatsAsync()
    {
        using var doc = JsonDocument.Parse(await Control.GetStringAsync($"http://127.0.0.1:{_controlPort}/stats"));
        var s = doc.RootElement.GetProperty("stats");
        int N(string name) => s.GetProperty(name).GetInt32();
        return new FaultStats(N("requests"), N("p503"), N("p500"), N("resetRequest"), N("resetResponse"), N("delay"), N("stalled"));
    }

    public async ValueTask DisposeAsync() => await ProcessRunner.BashAsync(_stop, timeout: TimeSpan.FromSeconds(30));
}
