//! A room's chat log: the message counter and the last group messages.

use crate::chat::CHAT_HISTORY_LEN;
use moot_protocol::ChatMessage;
use std::collections::VecDeque;

/// The room's chat: the message counter and the last group messages. Lives only in memory and
/// goes with the room. Private messages are never kept.
#[derive(Debug, Default)]
pub(super) struct ChatLog {
    /// The last `seq` handed out (group and private messages share it); 0 means none yet.
    last_seq: u64,
    /// The last [`CHAT_HISTORY_LEN`] group messages, oldest first. Kept whether or not the
    /// room shares its history, so turning `chat_history` on also shares what was said before.
    group: VecDeque<ChatMessage>,
}

impl ChatLog {
    pub(super) fn next_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }

    pub(super) fn keep(&mut self, message: ChatMessage) {
        debug_assert!(message.to.is_none(), "private messages are never kept");
        if self.group.len() == CHAT_HISTORY_LEN {
            self.group.pop_front();
        }
        self.group.push_back(message);
    }

    /// The kept group messages, oldest first.
    pub(super) fn history(&self) -> Vec<ChatMessage> {
        self.group.iter().cloned().collect()
    }
}
