# Sourced by the bench scripts: the main context of the nginx.conf each one
# writes (the module built in this tree, 2 workers, logs under the prefix).
#   bench_conf_main ROOT
bench_conf_main() {
    echo "load_module $1/build/ngx_http_compensation_module.so;"
    [ "$(id -u)" = 0 ] && echo "user root;"
    echo "worker_processes 2;"
    echo "error_log logs/error.log warn;"
    echo "pid logs/nginx.pid;"
}
