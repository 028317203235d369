package Compensation::Harness;

# Which Test::Nginx::Socket runs this file: the in-tree one (t/lib/Test/Nginx)
# or openresty's (PERL5LIB=<test-nginx>/lib:t/lib, make test-real-test-nginx).
#
#   use Test::Nginx::Socket 'no_plan';
#   use Compensation::Harness;      # after Test::Nginx::Socket
#
# Under openresty's Test::Nginx every block with a --- poll section (a project
# extension: repeat a request until its answer matches, 'HUP' reloads; see
# t/lib/README.md) is skipped with its reason: that harness ignores sections it
# does not know, so the block would otherwise run without its polls and pass
# without checking what they check. The in-tree harness refuses a --- poll
# block in a file that does not load this module, so none can be added
# without it. ::in_tree_harness() is for files that must tell the two apart
# otherwise.

use strict;
use warnings;

use Test::Nginx::Socket ();

our $PollSkipReason = 'the --- poll section is an extension of the in-tree '
    . 'harness (t/lib/Test/Nginx) that openresty\'s Test::Nginx ignores, so '
    . 'the block is skipped there';

sub in_tree_harness { return $Test::Nginx::Socket::IN_TREE ? 1 : 0 }

# --- error.log lines that one request of an array logs --------------------
#
# Both harnesses check --- error_log, --- no_error_log and --- grep_error_log
# after EACH request of a "--- request eval [...]" array, on the lines logged
# since the previous check: a line that only one request logs fails the
# checks of the others. Such a line is checked with that request's
# response_body_like element instead:
#
#   --- response_body_like eval
#   [..., ::log_has(qr/"aggregateVersion":2/, 'the snapshot row of "x1" is damaged')]
#
# log_has(BODY, LOG...) is a pattern that matches when the body matches BODY
# (a qr//; undef: any body) and the block's error.log (both harnesses start
# each block with an empty one) has, for each LOG: a line containing it (a
# string), a line matching it (a qr//), or exactly N lines matching RE
# ([qr//, N]). The log is read when the response is checked, and again every
# 50 ms for up to 3 s until it has them (lines written after the response);
# what is missing is reported with diag().

sub _log_lines {
    my $file = $Test::Nginx::Util::ErrLogFile;
    open my $fh, '<', $file or return ();
    my @lines = <$fh>;
    close $fh;
    return @lines;
}

sub _log_missing {
    my @want = @_;
    my @lines = _log_lines();
    my @missing;
    for my $w (@want) {
        if (ref $w eq 'ARRAY') {
            my ($re, $n) = @$w;
            my $got = grep { $_ =~ $re } @lines;
            push @missing, "exactly $n lines matching $re (found $got)"
                if $got != $n;
        } elsif (ref $w eq 'Regexp') {
            push @missing, "a line matching $w" unless grep { $_ =~ $w } @lines;
        } else {
            push @missing, "a line containing \"$w\""
                unless grep { index($_, $w) >= 0 } @lines;
        }
    }
    return @missing;
}

sub log_has {
    my ($body, @want) = @_;
    my $check = sub {
        my $got = shift;
        return 0 if defined $body && $got !~ $body;
        my @missing;
        for my $try (1 .. 60) {
            @missing = _log_missing(@want);
            last unless @missing;
            select undef, undef, undef, 0.05;
        }
        Test::More::diag("error.log lacks $_") for @missing;
        return !@missing;
    };
    return qr/\A((?s:.*))\z(?(?{ $check->($^N) })|(*FAIL))/;
}

my $installed;

sub import {
    # ::log_has in the blocks' eval sections
    no strict 'refs';
    *{'main::log_has'} = \&log_has;
    return if $installed++;
    return if in_tree_harness();

    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        return unless defined $block->poll;
        # Test::Nginx names a skipped test "<block name> - skip_eval": put
        # the reason into the name, and skip the block's one test
        $block->set_value(name => $block->name . " [skipped: $PollSkipReason]");
        $block->set_value('skip_eval', '1: 1');
    });
}

1;
