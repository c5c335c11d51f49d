import { sendBulkCommand } from '../core/bulk-copy';
import { CommandSendInput } from '../core/payloads';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const commandSend = defineHandler(STATES.commandSend, CommandSendInput, (input, ctx) => sendBulkCommand(input.spec, input.command, ctx.deps));
export const handler = commandSend.handler;
