"""Collecting mail from other accounts (POP3/IMAP, like fetchmail) and importing mbox/Maildir files."""
