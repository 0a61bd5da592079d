namespace Beyla.Bpf.Tests;

/// <summary>An nginx configuration for the tests: a master and two workers, everything under one folder.</summary>
internal static class NginxConfig
{
    /// <summary>Writes <c>nginx.conf</c> in <paramref name="dir"/> with one server block; returns its path.</summary>
    public static string Write(string dir, string serverBlock)
    {
        string conf = Path.Combine(dir, "nginx.conf");
        File.WriteAllText(conf, $$"""
            worker_processes 2;
            daemon off;
            user root;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log;
            events { worker_connections 256; }
            http {
                access_log off;
                sendfile on;
                keepalive_requests 100000;
                client_body_temp_path {{dir}}/body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                default_type text/plain;
                server {
                    root {{dir}}/www;
            {{serverBlock}}
                }
            }
            """);
        Directory.CreateDirectory(Path.Combine(dir, "www"));
        return conf;
    }
}
