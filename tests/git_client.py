#!/usr/bin/python3
"""git_client.py URL DIR: pygit2 (libgit2, which Debian 12 builds on mbedTLS) clones URL
into DIR, the server's self-signed certificate accepted. The test's server is no git
server: the clone fails once libgit2 has read the head of the answer to its first request
(GET URL/info/refs?service=git-upload-pack; text/plain is not git's content type), which
is what the capture test looks at. Prints the error."""
import sys
import pygit2


class Callbacks(pygit2.RemoteCallbacks):
    def certificate_check(self, certificate, valid, host):
        return True


try:
    pygit2.clone_repository(sys.argv[1], sys.argv[2], callbacks=Callbacks())
    print("cloned")
except Exception as e:  # the test server is not a git server
    print("clone failed:", e)
