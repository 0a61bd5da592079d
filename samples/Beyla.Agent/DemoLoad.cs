namespace Beyla.Agent;

/// <summary>The demo's client: a keep-alive HttpClient sending a mix of requests for a few seconds.</summary>
internal static class DemoLoad
{
    private static readonly string[] s_paths = ["/hello", "/hello", "/slow", "/missing", "/error", "/hello?user=secret"];

    public static async Task<long> RunAsync(int port, CancellationTokenSource stop, int requests = 30)
    {
        long sent = 0;
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        try
        {
            await Task.Delay(200, stop.Token);
            for (int i = 0; i < requests && !stop.IsCancellationRequested; i++)
            {
                using HttpResponseMessage response = await client.GetAsync(s_paths[i % s_paths.Length], stop.Token);
                await response.Content.ReadAsByteArrayAsync(stop.Token);
                sent++;
                await Task.Delay(100, stop.Token);
            }
            // Let the last spans arrive, then end the demo.
            await Task.Delay(500, stop.Token);
            stop.Cancel();
        }
        catch (OperationCanceledException)
        {
        }
        return sent;
    }
}
