// Kestrel test server for the kernel tests: same routes as tests/servers/python_server.py.
// Usage: dotnet Beyla.TestServer.dll --urls http://127.0.0.1:PORT
var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.UseKestrelHttpsConfiguration(); // https:// URLs, certificate from ASPNETCORE_Kestrel__Certificates__Default__Path
builder.Logging.ClearProviders();
var app = builder.Build();
app.MapGet("/hello/{**rest}", () => Results.Text("hello from kestrel\n"));
app.MapGet("/status/{code:int}", (int code) => Results.Text("status\n", statusCode: code));
app.MapGet("/big/{n:int}", (int n) => Results.Text(new string('x', n)));
app.MapGet("/slow/{ms:int}", async (int ms) =>
{
    await Task.Delay(ms);
    return Results.Text("slow\n");
});
app.MapGet("/drop/{**rest}", (HttpContext context) => context.Abort());
app.MapPost("/echo", async (HttpRequest request) =>
{
    using var buffer = new MemoryStream();
    await request.Body.CopyToAsync(buffer);
    return Results.Text($"{buffer.Length}\n");
});
app.MapFallback(() => Results.Text("not found\n", statusCode: 404));
app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine("listening"));
app.Run();
