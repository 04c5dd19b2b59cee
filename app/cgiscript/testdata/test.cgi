#!/usr/bin/perl
# The script of Go's net/http/cgi host tests (its testdata/test.cgi, in
# Perl as it once was): it answers with its parameters, its environment and
# its working directory, one "key=value" a line.
use strict;
use Cwd;

binmode STDOUT;

my %params;
sub parse {
    my ($s) = @_;
    foreach my $pair (split /[&;]/, $s) {
        my ($k, $v) = split /=/, $pair, 2;
        next unless defined $k && $k ne "";
        $v = "" unless defined $v;
        for ($k, $v) { tr/+/ /; s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge; }
        $params{$k} = $v;
    }
}
parse($ENV{QUERY_STRING} || "");
if (($ENV{REQUEST_METHOD} || "") eq "POST" && ($ENV{CONTENT_LENGTH} || 0) > 0) {
    my $body = "";
    read(STDIN, $body, $ENV{CONTENT_LENGTH});
    parse($body);
}

if ($params{loc}) {
    print "Location: $params{loc}\r\n\r\n";
    exit 0;
}

print "Content-Type: text/html\r\n";
print "X-CGI-Pid: $$\r\n";
print "X-Test-Header: X-Test-Value\r\n";
print "\r\n";

if ($params{writestderr}) {
    print STDERR "Hello, stderr!\n";
}

if ($params{bigresponse}) {
    # 17 MB, for OS X: golang.org/issue/4958
    for (1 .. 17 * 1024) {
        print "A" x 1024, "\r\n";
    }
    exit 0;
}

print "test=Hello CGI\r\n";
foreach my $k (sort keys %params) {
    print "param-$k=$params{$k}\r\n";
}
foreach my $k (sort keys %ENV) {
    my $v = $ENV{$k};
    $v =~ s/[\n\r]//g;
    print "env-$k=$v\r\n";
}
print "cwd=", getcwd(), "\r\n";
