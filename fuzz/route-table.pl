#!/usr/bin/perl
# Prints the route table of src/ngx_http_compensation_router.c as a C
# initializer of cf_route_entry_t (method bit, pattern, command), so that the
# route fuzz target and its replay match the module's real table.
use strict;
use warnings;

my %bit = (GET => 0x02, HEAD => 0x04, POST => 0x08, PUT => 0x10,
           DELETE => 0x20, OPTIONS => 0x200, PATCH => 0x4000);

local $/;
my $src = <>;
$src =~ /ngx_http_compensation_routes\[\]\s*=\s*\{(.*?)\n\};/s
    or die "route table not found\n";
my $table = $1;
$table =~ s{/\*.*?\*/}{}gs;

my $n = 0;
while ($table =~ /(CMD\(|GLOBAL\(|\{)\s*NGX_HTTP_(\w+)\s*,\s*"([^"]*)"\s*,([^}]*?)(?:\)\s*,|\}\s*,)/gs) {
    my ($kind, $m, $pattern, $rest) = ($1, $2, $3, $4);
    defined $bit{$m} or die "unknown method $m\n";
    my $cmd = ($kind eq 'CMD(' || $rest =~ /\bCF_CMD_/) ? 0 : -1;
    printf "    { 0x%x, \"%s\", %d },\n", $bit{$m}, $pattern, $cmd;
    $n++;
}
$n > 10 or die "only $n routes found\n";
print "    { 0, NULL, -1 }\n";
