using System.Data;
using System.Data.Common;

namespace PosCuda.Shared.Ledger;

/// <summary>Binds named parameters to an ADO.NET command, for either database.</summary>
internal static class SqlParameters
{
    /// <summary>Adds <paramref name="name"/> = <paramref name="value"/> (a null binds a text NULL) and returns the command.</summary>
    public static TCommand With<TCommand>(this TCommand command, string name, object? value)
        where TCommand : DbCommand
    {
        DbParameter parameter = command.CreateParameter();
        parameter.ParameterName = name;
        if (value is null)
        {
            parameter.DbType = DbType.String;
            parameter.Value = DBNull.Value;
        }
        else
        {
            parameter.Value = value;
        }

        command.Parameters.Add(parameter);
        return command;
    }
}
