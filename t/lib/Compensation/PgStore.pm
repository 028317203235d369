package Compensation::PgStore;

# The t/ suite on PostgreSQL (make prove-pg, docs/testing.md): with
#
#   TEST_COMPENSATION_STORE=<libpq DSN of an existing, empty database>
#   PERL5OPT=-MCompensation::PgStore
#
# every block's "compensation_store $TEST_NGINX_SERVER_ROOT/logs/NAME.db;"
# becomes that database with a schema of the block's own (search_path in the
# DSN's options), created empty just before the block: each block starts on
# an empty store, as it does on SQLite, where the server root's logs/ is
# wiped per block.  A store outside the server root
# ($TEST_NGINX_PERSIST_DIR/NAME.db: one that must outlive an nginx) gets one
# schema per file and path.  Blocks that are about the SQLite file itself are
# skipped, with the reason in the test's name and on stderr (%Skip below);
# so is a block whose store is any other file path (it tests how a path is
# taken, or needs the file where it is).
#
# Loaded through PERL5OPT, this is the one place that changes the suite:
# no .t file is edited, and it works under the in-tree harness and
# openresty's Test::Nginx alike (both run @Test::Nginx::Util::
# BlockPreprocessors before each block; this one is appended, so it runs after
# the files' and the Compensation::* modules' own, which unshift theirs, and
# sees the final sections).  Without TEST_COMPENSATION_STORE it does nothing.

use strict;
use warnings;

use IPC::Open2 ();

our $Dsn = $ENV{TEST_COMPENSATION_STORE};

# file (basename) => [ [ block-name regex, reason ], ... ]
my $SQLITE_FILE = 'the block reads or changes the SQLite database file';
our %Skip = (
    '007-store-thread.t' => [
        [ qr/waits for the (?:write )?lock|while a command waits|is in the (?:store )?thread|deadline passed while queued/,
          'the sqlite3 CLI holds the SQLite write lock' ],
    ],
    '011-snapshot.t' => [
        [ qr/^TEST 3:/, 'writes a damaged state with the sqlite3 CLI (a'
                        . ' PostgreSQL json column refuses it)' ],
        [ qr/^TEST 4:/, 'deletes the snapshot rows with the sqlite3 CLI' ],
    ],
    '025-metrics.t' => [
        [ qr/^TEST 10:/, "the SQLite file's and WAL's sizes" ],
    ],
    '022-actuator.t' => [
        [ qr/^TEST 8:/, "$SQLITE_FILE (replaced by one that is not a"
                        . ' database)' ],
    ],
    '043-store-health.t' => [
        [ qr/^TEST [1-4]:/, "$SQLITE_FILE (deleted, renamed over)" ],
        [ qr/^TEST 5:/, "$SQLITE_FILE (chattr +i for I/O errors)" ],
        [ qr/^TEST 6:/, 'a full disk under the SQLite file (a tmpfs)' ],
    ],
    '044-store-postgresql.t' => [
        [ qr/./, 'the file tests how compensation_store tells a DSN from a'
                 . ' file path' ],
    ],
);

my ($Psql, $PsqlIn, $PsqlOut);
my $Serial = 0;
my %FileSchema;
my $Installed;

sub _psql {
    my $sql = shift;
    if (!$Psql) {
        $Psql = IPC::Open2::open2($PsqlOut, $PsqlIn, 'psql', '-X', '-q',
                                  '-A', '-t', '-v', 'ON_ERROR_STOP=1', $Dsn)
            or die "psql: $!";
        $PsqlIn->autoflush(1);
    }
    # the SELECT's line says that everything before it was done
    my $tag = "done " . ++$Serial;
    print {$PsqlIn} "$sql;\nSELECT '$tag';\n";
    while (my $line = <$PsqlOut>) {
        return if $line eq "$tag\n";
    }
    die "psql ended before \"$tag\" (see its messages above): $sql\n";
}

sub _dsn {
    my $schema = shift;
    return $Dsn =~ m{^postgres(?:ql)?://}
           ? $Dsn . ($Dsn =~ /\?/ ? '&' : '?')
                  . "options=-csearch_path%3D$schema"
           : "$Dsn options=-csearch_path=$schema";
}

sub _new_schema {
    my $schema = sprintf 't%d_%d', $$, ++$Serial;
    _psql("CREATE SCHEMA $schema");
    return $schema;
}

sub _skip {
    my ($block, $reason) = @_;
    # Test::Nginx names a skipped test "<block name> - skip_eval"; the
    # reason goes into the name, as Compensation::Harness does for poll
    $block->set_value(name => $block->name
                              . " [skipped on PostgreSQL: $reason]");
    $block->set_value('skip_eval', '1: 1');
    my ($file) = $0 =~ m{([^/]+)\z};
    Test::More::diag("skipped on PostgreSQL: $file " . $block->name);
}

sub _preprocess {
    my $block = shift;
    my ($file) = $0 =~ m{([^/]+)\z};

    for my $s (@{ $Skip{$file} || [] }) {
        if ($block->name =~ $s->[0]) {
            _skip($block, $s->[1]);
            return;
        }
    }

    my (%block_schema, @other);
    my $rewrite = sub {
        my $path = shift;
        (my $bare = $path) =~ s/^"(.*)"\z/$1/;
        my $schema;
        if ($bare =~ m{^\\?\$TEST_NGINX_SERVER_ROOT/logs/[\w.-]+\z}) {
            $schema = $block_schema{$bare} //= _new_schema();
        } elsif ($bare =~ m{^\\?\$TEST_NGINX_PERSIST_DIR/[\w.-]+\z}) {
            $schema = $FileSchema{$bare} //= _new_schema();
        } else {
            push @other, $bare;
            return $path;
        }
        return '"' . _dsn($schema) . '"';
    };

    for my $section (qw(main_config http_config config post_main_config)) {
        my $text = $block->$section;
        next unless defined $text && $text =~ /compensation_store\s/;
        $text =~ s/(\bcompensation_store\s+)("[^"]*"|[^\s;]+)/$1 . $rewrite->($2)/ge;
        $block->set_value($section, $text);
    }

    if (@other) {
        _skip($block, "its store is a file path (@other): the block tests"
                      . " how a path is taken, or needs the file");
    }
}

sub import {
    return unless defined $Dsn && length $Dsn;
    # PERL5OPT loads this into every perl: only test files take part
    return unless $0 =~ /\.t\z/;
    return if $Installed++;
    no warnings 'once';
    push @Test::Nginx::Util::BlockPreprocessors, \&_preprocess;
}

END {
    local $?;    # the test's exit status
    if ($Psql) {
        close $PsqlIn;
        waitpid $Psql, 0;
    }
}

1;
