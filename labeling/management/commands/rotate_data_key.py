from django.core.management.base import BaseCommand, CommandError

from labeling.footage import crypto, rekey

EVERY = 200  # a progress line every this many blobs


class Command(BaseCommand):
    help = ("Re-wrap every encrypted blob's data key with the current data key (AERIE_DATA_KEY_FILE), reading with "
            "the old keys in AERIE_DATA_OLD_KEY_FILES; the frames themselves are not re-encrypted. Safe to interrupt: "
            "a rerun resumes where the last one stopped. Live procedure: make a key (--generate PATH), restart every "
            "process with AERIE_DATA_KEY_FILE=PATH and AERIE_DATA_OLD_KEY_FILES=the old key, run this command, then "
            "drop the old key from the settings.")

    def add_arguments(self, parser):
        parser.add_argument("--generate", metavar="PATH", help="write a new random data key to PATH and stop")
        parser.add_argument("--new-key-file", metavar="PATH",
                            help="re-wrap to this key instead of the configured one (only while nothing else runs: a "
                                 "process still configured with the old key keeps writing blobs under it)")
        parser.add_argument("--encrypt-plaintext", action="store_true",
                            help="also encrypt blobs stored in the clear before encryption was switched on")

    def handle(self, *args, generate, new_key_file, encrypt_plaintext, verbosity, **options):
        if generate:
            try:
                made = crypto.generate_key_file(generate)
            except FileExistsError:
                raise CommandError(f"{generate} exists already; a data key is never overwritten") from None
            self.stdout.write(f"wrote data key {made.hex()} to {generate} (mode 0600): keep a copy out of this machine")
            return
        ring = crypto.keyring()
        if new_key_file:
            kek = crypto.read_key_file(new_key_file)
            target = crypto.key_id(kek)
            ring = crypto.Keyring(ring.current_id, {**ring.keys, target: kek})
        elif not ring.enabled:
            raise CommandError("no data key is configured: set AERIE_DATA_KEY_FILE (make one with --generate PATH)")
        else:
            target = ring.current_id
        self.stdout.write(f"rotating to data key {target.hex()}; reading with "
                          f"{', '.join(k.hex() for k in ring.keys if k != target) or 'no other key'}")

        def line(progress, name):
            if verbosity and progress.seen % EVERY == 0:
                self.stdout.write(f"  {progress.seen} blobs: {progress.rewrapped} re-wrapped, {progress.encrypted} "
                                  f"encrypted, {progress.current} already on the key (at {name})")

        try:
            progress = rekey.rotate(target, ring, encrypt_plaintext=encrypt_plaintext, on_blob=line)
        except crypto.DataKeyError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{progress.seen} blobs: {progress.rewrapped} re-wrapped, {progress.encrypted} encrypted, "
                          f"{progress.current} already on the key, {progress.plaintext} in the clear")
        if progress.failed:
            for name, reason in progress.failed[:20]:
                self.stdout.write(f"FAILED {name}: {reason}")
            raise CommandError(f"{len(progress.failed)} blob(s) could not be re-wrapped; fix them and run this again "
                               "(it resumes)")
        old = [k.hex() for k in ring.keys if k != target]
        self.stdout.write("finished: " + (f"the old key(s) {', '.join(old)} are no longer needed" if old
                                          else "every encrypted blob is on this key"))
        if new_key_file:
            self.stdout.write(f"now set AERIE_DATA_KEY_FILE={new_key_file} for every process")
