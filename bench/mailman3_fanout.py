"""bench/mailman3_fanout.py - list settings for bench/fanout --mailman3, run inside Mailman 3.

Called as `mailman -C CFG shell -l LIST -r mailman3_fanout.configure` (with bench/ on
PYTHONPATH) after the members were added and before the runners start: lets the post through
without moderation (members and non-members: listd's run has member_only = no), and turns on
Mailman's local Maildir archiver ("prototype"), as listd archives every post into a Maildir.
Digests keep the style's default (enabled; one 5 KB post stays below the 30 KB threshold, so
no digest is sent; listd likewise only queues the post for its digest). Prints what it set.
"""
from mailman.config import config
from mailman.interfaces.action import Action


def configure(mlist):
    mlist.default_member_action = Action.accept
    mlist.default_nonmember_action = Action.accept
    mlist.send_welcome_message = False
    mlist.admin_notify_mchanges = False
    config.db.commit()
    print("default_member_action=%s default_nonmember_action=%s archive_policy=%s digests_enabled=%s "
          "members=%d" % (mlist.default_member_action.name, mlist.default_nonmember_action.name,
                          mlist.archive_policy.name, mlist.digests_enabled, mlist.members.member_count))
