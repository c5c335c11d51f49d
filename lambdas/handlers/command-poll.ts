import { pollBulkCommand } from '../core/bulk-copy';
import { CommandPollInput } from '../core/payloads';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const commandPoll = defineHandler(STATES.commandPoll, CommandPollInput, (input, ctx) => pollBulkCommand(input.spec, input.command, input.sent, ctx.deps));
export const handler = commandPoll.handler;
