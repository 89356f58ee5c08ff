import { Argument, Command } from 'commander';

/** One command of the tree: its path from the root (`" create job"`), subcommands and options. */
interface Node {
  path: string;
  subcommands: string[];
  options: { long?: string | undefined; short?: string | undefined }[];
}

function nodesOf(command: Command, path = ''): Node[] {
  const options = [
    ...command.options.map((option) => ({ long: option.long, short: option.short })),
    { long: '--help', short: '-h' },
  ];
  const subcommands = command.commands.map((sub) => sub.name());
  return [
    { path, subcommands, options },
    ...command.commands.flatMap((sub) => nodesOf(sub, `${path} ${sub.name()}`)),
  ];
}

const words = (node: Node) => [
  ...node.subcommands,
  ...node.options.flatMap((option) => (option.long ? [option.long] : [])),
];

function bash(root: string, nodes: Node[]): string {
  const walkable = nodes.filter((node) => node.path !== '').map((node) => `"${node.path}"`);
  const cases = nodes.map((node) => `    "${node.path}") words="${words(node).join(' ')}" ;;`);
  return `# ${root} completion for bash: eval "$(${root} completion bash)", e.g. in ~/.bashrc
_${root}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word words=""
  for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$path $word" in
      ${walkable.join('|')}) path="$path $word" ;;
    esac
  done
  case "$path" in
${cases.join('\n')}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _${root} ${root}
`;
}

function zsh(root: string, nodes: Node[]): string {
  return `# ${root} completion for zsh: eval "$(${root} completion zsh)", e.g. in ~/.zshrc
(( $+functions[compdef] )) || { autoload -U +X compinit && compinit }
autoload -U +X bashcompinit && bashcompinit
${bash(root, nodes).split('\n').slice(1).join('\n')}`;
}

function fish(root: string, nodes: Node[]): string {
  const walkable = nodes.filter((node) => node.path !== '').map((node) => `'${node.path}'`);
  const lines = [
    `# ${root} completion for fish: ${root} completion fish > ~/.config/fish/completions/${root}.fish`,
    `function __${root}_path`,
    '  set -l path ""',
    '  for word in (commandline -opc)[2..-1]',
    '    switch "$path $word"',
    `      case ${walkable.join(' ')}`,
    '        set path "$path $word"',
    '    end',
    '  end',
    '  echo "$path"',
    'end',
    `function __${root}_at`,
    `  test "x"(__${root}_path) = "x$argv[1]"`,
    'end',
    `complete -c ${root} -f`,
  ];
  for (const node of nodes) {
    const at = `-n "__${root}_at '${node.path}'"`;
    if (node.subcommands.length > 0)
      lines.push(`complete -c ${root} ${at} -a '${node.subcommands.join(' ')}'`);
    for (const option of node.options) {
      const flags = [
        option.long ? `-l ${option.long.replace(/^--/, '')}` : '',
        option.short ? `-s ${option.short.replace(/^-/, '')}` : '',
      ]
        .filter(Boolean)
        .join(' ');
      if (flags) lines.push(`complete -c ${root} ${at} ${flags}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `aicloud completion bash|zsh|fish`: a completion script for the whole command tree. */
export function completionCommand(): Command {
  return new Command('completion')
    .description(
      'print a shell completion script: eval "$(aicloud completion bash)" (or zsh; fish: see --help)',
    )
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      `
Install:
  bash  echo 'eval "$(aicloud completion bash)"' >> ~/.bashrc
  zsh   echo 'eval "$(aicloud completion zsh)"' >> ~/.zshrc
  fish  aicloud completion fish > ~/.config/fish/completions/aicloud.fish`,
    )
    .action(async (shell: 'bash' | 'zsh' | 'fish', _options: unknown, command: Command) => {
      let root = command;
      while (root.parent) root = root.parent;
      const nodes = nodesOf(root);
      const script = { bash, zsh, fish }[shell](root.name(), nodes);
      process.stdout.write(script);
    });
}
